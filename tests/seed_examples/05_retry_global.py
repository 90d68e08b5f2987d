import os
from mistral_gcp import MistralGCP
from mistral_gcp.utils import BackoffStrategy, RetryConfig

# The SDK auto-detects credentials and builds the Vertex AI URL
s = MistralGCP(
    project_id=os.environ.get("GCP_PROJECT_ID"),
    region=os.environ.get("GCP_REGION", "us-central1"),
    retry_config=RetryConfig("backoff", BackoffStrategy(1, 50, 1.1, 100), False),
)

res = s.chat.stream(
    messages=[
        {
            "role": "user",
            "content": "Who is the best French painter? Answer in one short sentence.",
        },
    ],
    model="mistral-small-2503",
)

if res is not None:
    for event in res:
        # handle event
        print(event)
