"""segdemo's web app: `python app.py` serves it (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT apply);
`SEGDEMO_MCP=1 python app.py` also serves its four tasks as MCP tools at /gradio_api/mcp/.
Once the page is up, the default models start loading in the background (SEGDEMO_PRELOAD=0: not).

Hugging Face Spaces and Gradio's reload mode import the module-level ``demo``; to serve it inside
another FastAPI app, pass the same options: ``gr.mount_gradio_app(app, demo, "/",
**LAUNCH_OPTIONS)``.
"""

import os

from segdemo import process

process.tune()  # before torch is imported

from segdemo.preload import start_preloading  # noqa: E402
from segdemo.ui import LAUNCH_OPTIONS, build_demo  # noqa: E402

demo = build_demo()

if __name__ == "__main__":
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        prevent_thread_lock=True,
        **LAUNCH_OPTIONS,
    )
    # Once the page is served: the default models load in the background, not before startup.
    start_preloading()
    demo.block_thread()
