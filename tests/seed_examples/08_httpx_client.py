import os
from mistral_gcp import MistralGCP
import httpx

http_client = httpx.Client(headers={"x-custom-header": "someValue"})
s = MistralGCP(
    project_id=os.environ.get("GCP_PROJECT_ID"),
    region="us-central1",
    client=http_client,
)
