"""Publishing to the Hugging Face Hub (`--push-to-hub OWNER/NAME` on `mirr export-rollouts` and `mirr train`),
and the `.env` file the original MIRR read its keys from.

huggingface_hub is the `hub` extra. A push is one commit: the files and a card (README.md) that says what
they are. The token comes from HF_TOKEN (or huggingface_hub's own login); it is never printed.
"""

from __future__ import annotations

import collections
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DOTENV_KEYS = ("GROQ_API_KEY", "HF_TOKEN")  # the only names read from .env
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
MAX_DOTENV_BYTES = 64_000


class HubError(RuntimeError):
    """A push could not be made (missing extra, bad repo id, the Hub refused); the message says why."""


def read_dotenv(path: str | Path = ".env", environ: dict[str, str] | None = None) -> list[str]:
    """Set GROQ_API_KEY / HF_TOKEN from a `.env` file if present, never over a variable already set.

    Reads `KEY=VALUE` lines (`export KEY=VALUE`, quotes and `# comments` allowed); other names are ignored
    and the file is never written. Returns the names that were set (never their values)."""
    env = os.environ if environ is None else environ
    target = Path(path)
    try:
        if not target.is_file() or target.stat().st_size > MAX_DOTENV_BYTES:
            return []
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    found = []
    for line in text.splitlines():
        match = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$", line)
        if not match or match.group(1) not in DOTENV_KEYS:
            continue
        key, value = match.group(1), match.group(2)
        if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        if value and not env.get(key):
            env[key] = value
            found.append(key)
    return found


def check_repo_id(repo_id: str) -> str:
    if not REPO_ID.match(repo_id or ""):
        raise HubError(f"--push-to-hub needs OWNER/NAME, got {repo_id!r}")
    return repo_id


def hub_api() -> Any:
    """An HfApi with the token from HF_TOKEN (or huggingface_hub's saved login)."""
    try:
        from huggingface_hub import HfApi
    except ModuleNotFoundError:
        raise HubError("--push-to-hub needs the hub extra: pip install -e '.[hub]'") from None
    return HfApi(token=os.environ.get("HF_TOKEN") or None)


def check_push_possible(repo_id: str) -> None:
    """Fail before the (long) work, not after it: the extra is installed, the id is well formed, a token exists."""
    check_repo_id(repo_id)
    hub_api()
    from huggingface_hub import get_token

    if not (os.environ.get("HF_TOKEN") or get_token()):
        raise HubError("--push-to-hub needs a token: set HF_TOKEN (or put it in .env, or run `hf auth login`)")


def push_files(repo_id: str, repo_type: str, files: dict[str, Path], card: str, message: str) -> str:
    """Create the repo if needed and commit `files` (path in repo -> local file) and the card; returns its URL."""
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    api = hub_api()
    operations = [CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card.encode("utf-8"))]
    operations += [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(local)) for name, local in files.items()]
    try:
        url = api.create_repo(repo_id, repo_type=repo_type, exist_ok=True)
        api.create_commit(repo_id, operations=operations, commit_message=message, repo_type=repo_type)
    except HfHubHTTPError as exc:
        raise HubError(f"the Hub refused the push to {repo_id}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # no connection, a malformed answer: one line, and the local files stay
        raise HubError(f"could not push to {repo_id}: {type(exc).__name__}: {str(exc)[:200]}") from None
    return str(url)


def outcome_counts(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(collections.Counter(str(r.get("outcome")) for r in records).items()))


def dataset_card(config: Any, agent: str, seeds: range, difficulty: str, outcomes: dict[str, int]) -> str:
    rows = "\n".join(f"| {name} | {count} |" for name, count in outcomes.items())
    return f"""---
license: mit
task_categories:
- text-generation
tags:
- mirr
- incident-response
- openenv
- reinforcement-learning
---

# MIRR rollouts: {agent}

Episodes of the MIRR incident-response environment played by the `{agent}` agent, as a chat dataset (one JSON
line each: `messages` with the observation text and the agent's JSON actions, plus `outcome`, `score`,
`rewards`, `seed` and the hidden `truth` revealed after the episode),
written by `mirr export-rollouts`.

| | |
|---|---|
| environment | {config.id}, rules version {config.version}, config hash {config.hash} |
| agent | {agent} |
| difficulty | {difficulty} |
| seeds | {seeds.start}-{seeds.stop - 1} ({len(seeds)} episodes) |

| outcome | episodes |
|---|---|
{rows}

Every record re-plays exactly (`mirr_tui.rollouts.verify_rollout`) under the same rules version.
"""


def model_card(config: Any, updates: int, seconds: float, validation: dict[str, Any] | None, files: list[str]) -> str:
    if validation:
        figures = (
            f"| held-out success (greedy, validation seeds 500000-500199) | {validation['val_success']:.1%} |\n"
            f"| held-out diagnosis accuracy | {validation['val_diagnosis']:.1%} |\n"
            f"| at update | {validation['update']} |"
        )
    else:
        figures = "| held-out figures | none: trained with --eval-every 0 |"
    listed = "\n".join(f"- `{name}`" for name in files)
    return f"""---
license: mit
library_name: numpy
tags:
- mirr
- incident-response
- grpo
- reinforcement-learning
---

# MIRR GRPO policy

A small numpy policy for the MIRR incident-response environment, trained from scratch with GRPO on CPU by
`mirr train` ({updates} updates, {seconds:.0f} s of training). Load it with
`mirr eval --agent grpo -o weights=grpo.npz`.

| | |
|---|---|
| environment | {config.id}, rules version {config.version}, config hash {config.hash} |
{figures}

Training seeds are >= 1,000,000 and evaluation uses 0-999, so the figures above are on seeds the policy never
trained on. Files:

{listed}
"""
