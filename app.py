"""segdemo's web app: `python app.py` serves it (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT apply).

Hugging Face Spaces and Gradio's reload mode import the module-level ``demo``.
"""

import os

from segdemo.ui import CSS, build_demo

demo = build_demo()

if __name__ == "__main__":
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size="25mb",
        css=CSS,
        footer_links=["api", "gradio"],
        show_error=False,
    )
