#!/bin/sh
# One-shot set-up of the object store, run by the `createbucket` service of docker-compose.yml
# on every `docker compose up`; safe to run again. It creates the media bucket (private: no
# anonymous access) and the application's own access key, allowed into that bucket only, so
# the MinIO root credentials never reach the web or worker containers.
# Plain POSIX sh with mc only: the minio/mc image has no grep or sed.
set -eu

policy=labelplatform-media-readwrite

mc alias set store http://storage:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing "store/$AWS_STORAGE_BUCKET_NAME"
mc anonymous set none "store/$AWS_STORAGE_BUCKET_NAME"

policy_file="${TMPDIR:-/tmp}/labelplatform-media-policy.json"
cat > "$policy_file" <<POLICY
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
      "Resource": ["arn:aws:s3:::$AWS_STORAGE_BUCKET_NAME"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                 "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      "Resource": ["arn:aws:s3:::$AWS_STORAGE_BUCKET_NAME/*"]
    }
  ]
}
POLICY
mc admin policy create store "$policy" "$policy_file"
# Adding an existing user sets its secret again: a changed AWS_SECRET_ACCESS_KEY takes effect.
mc admin user add store "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
# Attaching a policy that is already attached is an error in MinIO, so look first.
case "$(mc admin user info store "$AWS_ACCESS_KEY_ID")" in
    *"$policy"*) ;;
    *) mc admin policy attach store "$policy" --user "$AWS_ACCESS_KEY_ID" ;;
esac
echo "bucket $AWS_STORAGE_BUCKET_NAME ready for $AWS_ACCESS_KEY_ID"
