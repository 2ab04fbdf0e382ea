"""The classifier's part of the API, laid out as labeling.api: serializers (shapes), views,
urls (under /api/, namespace api:classifier). Shared API code is in labelplatform.api."""
