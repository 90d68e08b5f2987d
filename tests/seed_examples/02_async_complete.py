# Asynchronous Example
import asyncio
import os
from mistral_gcp import MistralGCP

async def main():
    # The SDK auto-detects credentials and builds the Vertex AI URL
    s = MistralGCP(
        project_id=os.environ.get("GCP_PROJECT_ID"),  # Optional: auto-detected
        region=os.environ.get("GCP_REGION", "us-central1"),
    )
    res = await s.chat.complete_async(messages=[
        {
            "role": "user",
            "content": "Who is the best French painter? Answer in one short sentence.",
        },
    ], model="mistral-small-2503")
    if res is not None:
        # handle response
        print(res.choices[0].message.content)

asyncio.run(main())
