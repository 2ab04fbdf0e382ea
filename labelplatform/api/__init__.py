"""What both apps' APIs share (REST_FRAMEWORK and SPECTACULAR_SETTINGS name these modules):
errors as JSON {"detail"} (exceptions), the error body's serializer and the schema's error
responses (serializers, schema), page-number pagination (pagination), and the schema's
post-processing hooks (schema). Each app's API lives in <app>/api/: serializers, views,
urls."""
