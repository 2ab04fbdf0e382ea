"""Media on S3 (or MinIO) through django-storages, with browser URLs signed for a public host.

Inside a compose network the processes reach the object store as `http://storage:9000`, a name
no browser can resolve. A signed URL cannot simply have its host rewritten afterwards: SigV4
signs the host. So when `public_endpoint_url` (AWS_S3_PUBLIC_ENDPOINT_URL) is set, url() signs
for that endpoint, while reads and writes keep using `endpoint_url`. Signing is computed
locally; the public endpoint is never contacted by the server.
"""

from django.utils.functional import cached_property
from storages.backends.s3 import S3Storage
from storages.utils import clean_name, setting


class S3MediaStorage(S3Storage):
    def get_default_settings(self):
        return {
            **super().get_default_settings(),
            "public_endpoint_url": setting("AWS_S3_PUBLIC_ENDPOINT_URL"),
        }

    @cached_property
    def _public_client(self):
        # boto3 clients (unlike resources) are thread-safe, so one per storage instance will do.
        return self._create_session().client(
            "s3",
            region_name=self.region_name,
            use_ssl=self.use_ssl,
            endpoint_url=self.public_endpoint_url,
            config=self.client_config,
            verify=self.verify,
        )

    def url(self, name, parameters=None, expire=None, http_method=None):
        if not self.public_endpoint_url or self.custom_domain or not self.querystring_auth:
            return super().url(name, parameters=parameters, expire=expire, http_method=http_method)
        params = {
            **(parameters or {}),
            "Bucket": self.bucket_name,
            "Key": self._normalize_name(clean_name(name)),
        }
        return self._public_client.generate_presigned_url(
            "get_object",
            Params=params,
            ExpiresIn=self.querystring_expire if expire is None else expire,
            HttpMethod=http_method,
        )
