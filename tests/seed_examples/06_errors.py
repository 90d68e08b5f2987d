import os
from mistral_gcp import MistralGCP
from mistral_gcp import models

# The SDK auto-detects credentials and builds the Vertex AI URL
s = MistralGCP(
    project_id=os.environ.get("GCP_PROJECT_ID"),
    region=os.environ.get("GCP_REGION", "us-central1"),
)

res = None
try:
    res = s.chat.complete(
        messages=[
            {
                "role": "user",
                "content": "Who is the best French painter? Answer in one short sentence.",
            },
        ],
        model="mistral-small-2503",
    )

except models.HTTPValidationError as e:
    # handle exception
    raise(e)
except models.SDKError as e:
    # handle exception
    raise(e)

if res is not None:
    # handle response
    pass
