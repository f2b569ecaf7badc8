"""An OpenAI-compatible chat endpoint over a transformers checkpoint, to evaluate a freshly trained model
with `mirr eval --agent llm` where neither vLLM (a GPU) nor llama.cpp (a GGUF conversion) is at hand.

    python -m mirr_tui.hf_chat_server --model ./mirr-grpo [--host 127.0.0.1] [--port 8011]
    mirr eval --agent llm -o base_url=http://127.0.0.1:8011/v1 -o model=mirr-grpo --seed 1000-1019

`POST /v1/chat/completions` (messages, max_tokens, temperature, seed) and `GET /v1/models`; the reply
carries real usage counts from the tokenizer. It does no constrained decoding: a `response_format` that
asks for a schema is refused with a 400 naming the field, and the LLM agent falls back to JSON mode, which
is accepted and not enforced (the agent parses and re-asks as it does with any server). One request is
generated at a time. torch and transformers come with the `train` extra.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 4 * 1024 * 1024  # bytes of request body read


class BadRequest(ValueError):
    """A request this server cannot serve; the message goes back in an OpenAI-style error body."""


class ChatModel:
    """A causal LM and its tokenizer (with a chat template), generating one reply at a time."""

    def __init__(self, model: Any, tokenizer: Any, name: str) -> None:
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.lock = threading.Lock()

    @classmethod
    def load(cls, path: str, name: str | None = None, gguf_file: str | None = None) -> ChatModel:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        extra = {"gguf_file": gguf_file} if gguf_file else {}
        tokenizer = AutoTokenizer.from_pretrained(path, **extra)
        model = AutoModelForCausalLM.from_pretrained(path, **extra)
        model.eval()
        return cls(model, tokenizer, name or path.rstrip("/").rsplit("/", 1)[-1])

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """An OpenAI chat.completion object for the request `body` (BadRequest when it cannot be served)."""
        import torch

        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages: a non-empty list is required")
        if not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
            raise BadRequest("messages: each needs a role and a string content")
        form = body.get("response_format")
        if isinstance(form, dict) and (form.get("type") == "json_schema" or "schema" in form):
            raise BadRequest("response_format with a JSON schema is not supported (no constrained decoding)")
        try:
            max_tokens = int(body.get("max_tokens") or 256)
            temperature = float(body.get("temperature", 1.0) or 0.0)
        except (TypeError, ValueError):
            raise BadRequest("max_tokens and temperature must be numbers") from None
        if not 1 <= max_tokens <= 8192 or not 0 <= temperature <= 5:
            raise BadRequest("max_tokens must be 1-8192 and temperature 0-5")
        encoded = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        prompt_tokens = int(encoded["input_ids"].shape[-1])
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        with self.lock, torch.no_grad():
            if isinstance(body.get("seed"), int):
                torch.manual_seed(body["seed"])
            output = self.model.generate(
                **encoded.to(self.model.device),
                max_new_tokens=max_tokens,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                **sampling,
            )
        new = output[0, prompt_tokens:].tolist()
        eos = self.tokenizer.eos_token_id
        finished = eos is not None and eos in new
        if finished:
            new = new[: new.index(eos)]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop" if finished else "length",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(new),
                "total_tokens": prompt_tokens + len(new),
            },
        }


def make_server(chat: ChatModel, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for `chat` (port 0: any free one; `server.server_address` says which)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet: the eval prints what matters
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._send(status, {"error": {"message": message, "type": "invalid_request_error"}})

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": chat.name, "object": "model"}]})
            else:
                self._error(404, f"no such path: {self.path}")

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._error(404, f"no such path: {self.path}")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 < length <= MAX_BODY:
                self._error(400, f"a JSON body of 1-{MAX_BODY} bytes is required")
                return
            try:
                body = json.loads(self.rfile.read(length))
                if not isinstance(body, dict):
                    raise BadRequest("the body must be a JSON object")
                self._send(200, chat.complete(body))
            except json.JSONDecodeError as exc:
                self._error(400, f"the body is not JSON ({exc.msg})")
            except BadRequest as exc:
                self._error(400, str(exc))

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a checkpoint folder (or hub id) transformers can load")
    parser.add_argument("--gguf-file", default=None, help="a GGUF file inside --model to load (dequantised)")
    parser.add_argument("--name", default=None, help="the model id the server answers to (default: folder name)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    args = parser.parse_args(argv)
    chat = ChatModel.load(args.model, args.name, args.gguf_file)
    server = make_server(chat, args.host, args.port)
    host, port = server.server_address[:2]
    print(f"serving {chat.name} on http://{host}:{port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
