"""GRPO on MIRR with TRL: the code behind docs/train_grpo.ipynb, kept here so it is tested like the rest.

The model is trained on exactly what `mirr eval --agent llm` shows it and reads back: the LLM agent's system
prompt, its notebook of evidence (`agents.llm_prompt.Transcript`) and a `{"reasoning", "action"}` JSON reply.
A TRL `environment_factory` (mirr_tui.trl_env) would train tool calls instead, which the agent never makes.

- `prompt_states` turns a rollouts dataset (`mirr export-rollouts`, on training seeds) into one row per move:
  the prompt the agent would send there, plus the seed and the moves that led to it.
- `incident_reward` scores a completion by playing it: the state is rebuilt from the seed and those moves,
  the completion's move is made (an unusable reply is the agent's fallback `wait` plus the invalid-action
  price), and the reasoner finishes the episode. The reward is the episode's final score, rules v2 and all
  (verdicts settled at the end), so a group of completions at one state is ranked by where each move leads.
- `tiny_model` is the CPU test's stand-in for a real model: a locally trained byte-level BPE tokenizer and
  a randomly initialised two-layer Llama (no hub).
- `reward_curve` draws the mean reward per logged step from the trainer's log history.

torch, transformers, tokenizers and trl are the `train` extra; nothing here imports them at module load.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .core import Action, EnvConfig, IncidentEnv, coerce_action, load_config
from .rollouts import assistant_actions


def _config(config: EnvConfig | None) -> EnvConfig:
    return config if config is not None else load_config()  # load_config caches the manifest per path


def _options(difficulty: str | None, scenario: str | None) -> dict[str, Any] | None:
    options = {k: v for k, v in (("difficulty", difficulty), ("scenario", scenario)) if v}
    return options or None


def prompt_states(
    records: Iterable[dict[str, Any]], config: EnvConfig | None = None, history: int | None = None
) -> list[dict[str, Any]]:
    """One row per move of each rollout: `prompt` (the LLM agent's system and user messages at that state),
    `seed`, `difficulty`, `scenario`, `step` and `prefix` (the moves before it, as JSON text)."""
    from .agents.llm_prompt import Transcript, system_prompt
    from .agents.llm_settings import DEFAULTS

    config = _config(config)
    system = system_prompt(config)
    rows = []
    for record in records:
        env = IncidentEnv(config)
        seed, difficulty, scenario = int(record["seed"]), record.get("difficulty"), record.get("scenario")
        obs = env.reset(seed=seed, options=_options(difficulty, scenario))
        transcript = Transcript(DEFAULTS["history"] if history is None else history, config.rules.max_steps)
        prefix: list[dict[str, str]] = []
        sent: Action | None = None
        for action in assistant_actions(record):
            if obs.done:
                break
            transcript.observe(obs, sent)
            rows.append(
                {
                    "prompt": [
                        {"role": "system", "content": system},
                        {"role": "user", "content": transcript.user_message(obs)},
                    ],
                    "seed": seed,
                    "difficulty": difficulty,
                    "scenario": scenario,
                    "step": obs.step,
                    "prefix": json.dumps(prefix),
                }
            )
            obs, sent = env.step(action), action
            prefix.append(action.to_dict())
    return rows


def reply_text(completion: Any) -> str:
    """The text of one completion as TRL hands it over: a string, or chat messages (the last one's content)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content") or "")
    return ""


def play_out(
    seed: int,
    prefix: Sequence[dict[str, Any]],
    action: Action,
    difficulty: str | None = None,
    scenario: str | None = None,
    config: EnvConfig | None = None,
    finisher: str = "reasoner",
) -> float:
    """The final score of the episode `seed` after the moves `prefix`, then `action`, then `finisher` to the end."""
    from . import agents

    config = _config(config)
    env = IncidentEnv(config)
    obs = env.reset(seed=seed, options=_options(difficulty, scenario))
    for move in prefix:
        obs = env.step(coerce_action(move))
    if not obs.done:
        obs = env.step(action)
    if not obs.done:
        agent = agents.create(finisher, config=config)
        if getattr(agent, "needs_env", False):
            agent.attach(env)
        agent.reset(obs)
        while not obs.done:
            obs = env.step(agent.act(obs))
    return env.state.score


def incident_reward(
    completions: Sequence[Any],
    seed: Sequence[int],
    prefix: Sequence[str],
    difficulty: Sequence[str | None] | None = None,
    scenario: Sequence[str | None] | None = None,
    **_: Any,
) -> list[float]:
    """TRL reward function: each completion's move played from its row's state, the reasoner finishing.

    An unusable reply costs what it costs the LLM agent: its fallback is `wait`, plus the invalid price.
    """
    from .agents.llm_prompt import ReplyError, parse_reply

    config = _config(None)
    services = config.service_names
    rewards = []
    for i, completion in enumerate(completions):
        moves = json.loads(prefix[i])
        args = (difficulty[i] if difficulty else None, scenario[i] if scenario else None, config)
        try:
            action, _, _ = parse_reply(reply_text(completion), services)
        except ReplyError:
            rewards.append(play_out(int(seed[i]), moves, Action("wait"), *args) + config.rewards.invalid)
            continue
        rewards.append(play_out(int(seed[i]), moves, action, *args))
    return rewards


CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def tiny_model(texts: Iterable[str], seed: int = 0, vocab_size: int = 512) -> tuple[Any, Any]:
    """(model, tokenizer) for a CPU pipeline test: a byte-level BPE tokenizer trained on `texts` here and a
    randomly initialised two-layer Llama. It learns nothing useful; it exercises every part of the loop."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|end|>", "<|pad|>"]
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    raw.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|end|>", pad_token="<|pad|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(model_config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def reward_points(log_history: Iterable[dict[str, Any]]) -> list[tuple[int, float]]:
    """(step, mean reward) for every logged training step that has one."""
    return [(int(entry["step"]), float(entry["reward"])) for entry in log_history if "reward" in entry]


def reward_curve(log_history: Iterable[dict[str, Any]], path: str | Path, title: str = "GRPO on MIRR") -> Path:
    """Draw the mean reward per logged step to `path` (PNG); needs matplotlib (the `plots` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    points = reward_points(log_history)
    if not points:
        raise ValueError("the log history has no reward: log at least one step (logging_steps=1)")
    figure, axes = plt.subplots(figsize=(7, 3.5))
    axes.plot([s for s, _ in points], [r for _, r in points], marker="o")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("training step")
    axes.set_ylabel("mean episode score of the group")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
