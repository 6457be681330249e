"""KUDA web app: locate a fact inside a language model, forget it, and inspect the result.

    python app.py                       # default model, http://127.0.0.1:7860
    python app.py --model gpt2 --online --device cpu
    python app.py --host 0.0.0.0 --username alice --password secret
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get("KUDA_MODEL", "default"),
                        help="hub id, local folder or .gguf file loaded at start (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cuda, mps or cpu")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("KUDA_PORT", 7860)))
    parser.add_argument("--username", default=os.environ.get("KUDA_USERNAME"), help="required with a non-local --host")
    parser.add_argument("--password", default=os.environ.get("KUDA_PASSWORD"), help="required with a non-local --host")
    parser.add_argument("--online", action="store_true", help="allow Hugging Face hub access (off by default)")
    parser.add_argument("--allow-pickle", action="store_true", help="allow loading pickle (.bin) checkpoints")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow model repositories' own code")
    parser.add_argument("--allow-model-loading", action="store_true",
                        help="let visitors replace the served model for everyone (Model tab, bundles); off by default")
    parser.add_argument("--max-upload-mb", type=float, default=50, help="largest file a visitor may upload")
    parser.add_argument("--runs-dir", default=os.environ.get("KUDA_RUNS_DIR", "runs"),
                        help="the app's own folder: bundles are exported only inside it (default: ./runs)")
    parser.add_argument("--workers", type=int, default=8,
                        help="requests handled at once; model work itself runs one step at a time, in arrival order")
    args = parser.parse_args(argv)
    if args.host not in LOCAL_HOSTS and not (args.username and args.password):
        parser.error(f"--host {args.host} exposes the app beyond this machine: give --username and --password")
    if args.max_upload_mb <= 0:
        parser.error(f"--max-upload-mb must be positive, got {args.max_upload_mb:g}")
    return args


def upload_limit(args: argparse.Namespace) -> int:
    """--max-upload-mb in bytes, as gradio's max_file_size takes it ("20.0mb" is not a size it reads)."""
    return int(args.max_upload_mb * 1024 * 1024)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.online:
        os.environ["KUDA_ONLINE"] = "1"
    from kuda_core.model.network import apply_network_defaults  # before gradio / transformers

    apply_network_defaults()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ui.layout import build_app
    from ui.session import HOST, OPTIONS, calibrate

    OPTIONS.allow_model_loading = args.allow_model_loading
    OPTIONS.runs_dir = Path(args.runs_dir).expanduser().resolve()
    OPTIONS.runs_dir.mkdir(parents=True, exist_ok=True)
    OPTIONS.load_options = {"allow_pickle": args.allow_pickle, "trust_remote_code": args.trust_remote_code}
    print(f"Loading {args.model} ...", flush=True)
    HOST.load(args.model, device=args.device, progress=lambda f, m: print(f"[{f:4.0%}] {m}", flush=True),
              **OPTIONS.load_options)
    calibrate()
    print(f"Model ready: {HOST.lm.summary()}", flush=True)
    demo = build_app()
    auth = (args.username, args.password) if args.username and args.password else None
    demo.queue(default_concurrency_limit=args.workers).launch(
        server_name=args.host, server_port=args.port, share=False, auth=auth, show_error=True,
        footer_links=[], max_file_size=upload_limit(args), **build_app.launch_options,
    )


if __name__ == "__main__":
    sys.exit(main())
