"""Stream a chat completion from the embedded Vertex emulator: no Google account needed.

The client code is exactly what runs against Vertex AI; only ``server_url`` and the token
come from the emulator (real google-auth against a real Vertex would replace them).
"""

import sys

from mistral_gcp.testing import Emulator

prompt = " ".join(sys.argv[1:]) or "Who is the best French painter? Answer in one short sentence."

with Emulator() as emulator:
    client = emulator.client()
    with client.chat.stream(model="mistral-small-2503", messages=[{"role": "user", "content": prompt}]) as stream:
        for event in stream:
            if event.data.choices:
                print(event.data.choices[0].delta.content or "", end="", flush=True)
    print()
