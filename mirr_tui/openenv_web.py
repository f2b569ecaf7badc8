"""MIRR in OpenEnv's web interface (`ENABLE_WEB_INTERFACE=true`, which `openenv push` switches on).

OpenEnv's generated Playground builds its step form from the action schema but leaves out any field named
`type`, so a MIRR move (whose kind is `type` on the JSON API) could not be sent from it. This module gives
the interface three things, none of which changes the JSON API:

- `web_actions`: every legal move for the current observation, as one-click actions in the Playground;
- `render_web`: the board as text (the same `render_observation` agents and the TUI's plain view read);
- `gradio_builder`: a "MIRR" tab, shown first, with a form whose move field is called `move` (then
  `service` and `mode`), plus reset options (seed, difficulty, scenario).

`mirr_tui.server` wires them in; gradio comes with the `server` extra (OpenEnv depends on it).
"""

from __future__ import annotations

import html
from typing import Any

from .core import ACTION_TYPES, FAULT_MODES, EnvConfig, Observation, coerce_action
from .core.actions import InvalidAction, all_actions
from .core.render import render_observation


def observation_of(payload: dict[str, Any]) -> Observation | None:
    """The core observation in OpenEnv's serialized form (observation fields plus top-level reward / done)."""
    try:
        return Observation.from_dict(payload)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def render_web(payload: dict[str, Any]) -> str | None:
    """The board as preformatted text, or None when the payload is not a MIRR observation."""
    obs = observation_of(payload)
    if obs is None:
        return None
    return f'<pre class="mirr-board" style="white-space: pre-wrap">{html.escape(render_observation(obs))}</pre>'


def legal_moves(config: EnvConfig, obs: Observation) -> list[dict[str, str]]:
    """Every well-formed move worth offering now (diagnoses only while diagnose is legal), in the order of the
    Gymnasium adapter's action ids."""
    return [move.to_dict() for move in all_actions(config.service_names) if move.type != "diagnose" or obs.can_diagnose]


def web_actions(config: EnvConfig, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, action) pairs for the Playground's one-click list: `logs payment`, `diagnose payment bad_deploy`."""
    obs = observation_of(payload)
    if obs is None or obs.done:
        return []
    return [(coerce_action(move).to_text(), move) for move in legal_moves(config, obs)]


def form_action(move: str | None, service: str | None, mode: str | None) -> dict[str, str]:
    """The JSON API's action from the MIRR tab's three fields (blank ones left out), or InvalidAction."""
    if not move:
        raise InvalidAction("choose a move")
    data = {"type": move}
    if service:
        data["service"] = service
    if mode:
        data["mode"] = mode
    return coerce_action(data).to_dict()  # the same checks as every other input path


def make_gradio_builder(config: EnvConfig) -> Any:
    """OpenEnv's `gradio_builder` hook for one config: `(web_manager, action_fields, metadata, is_chat_env,
    title, quick_start_md) -> gr.Blocks`."""

    def build(web_manager: Any, action_fields: Any, metadata: Any, is_chat_env: bool, title: str, quick: Any) -> Any:
        import gradio as gr

        async def reset(seed: Any, difficulty: str | None, scenario: str | None) -> tuple[str, str]:
            kwargs: dict[str, Any] = {}
            if seed not in (None, ""):
                try:
                    kwargs["seed"] = int(seed)
                except (TypeError, ValueError):
                    return gr.update(), f"seed must be a whole number, got {seed!r}"
            if difficulty:
                kwargs["difficulty"] = difficulty
            if scenario:
                kwargs["scenario"] = scenario
            try:
                data = await web_manager.reset_environment(kwargs)
            except Exception as exc:  # shown, never raised into Gradio's generic error box
                return gr.update(), f"reset failed: {exc}"
            return _board(data), "new incident: read the alerts, then `check_logs` a service"

        async def step(move: str | None, service: str | None, mode: str | None) -> tuple[str, str]:
            try:
                action = form_action(move, service, mode)
            except InvalidAction as exc:
                return gr.update(), f"not sent: {exc}"
            if not web_manager.episode_state.episode_id:
                await web_manager.reset_environment({})
            try:
                data = await web_manager.step_environment(action)
            except Exception as exc:
                return gr.update(), f"step failed: {exc}"
            obs = observation_of({**data["observation"], "reward": data["reward"], "done": data["done"]})
            message = obs.message if obs is not None else ""
            return _board(data), f"`{coerce_action(action).to_text()}`: {message}"

        with gr.Blocks(title=title) as blocks:
            gr.Markdown(
                "### MIRR: one hidden fault, 30 steps\nPick a move, its service (and a fault mode to diagnose), "
                "then **Run step**. Diagnose before your first fix."
            )
            with gr.Row():
                seed = gr.Textbox(label="seed (optional)", placeholder="random", scale=1)
                difficulty = gr.Dropdown([None, *config.difficulties], value=None, label="difficulty", scale=1)
                scenario = gr.Dropdown([None, *config.scenarios], value=None, label="scenario", scale=1)
                reset_button = gr.Button("New incident", scale=1)
            with gr.Row():
                move = gr.Dropdown(list(ACTION_TYPES), value="check_logs", label="move")
                service = gr.Dropdown([None, *config.service_names], value=config.service_names[0], label="service")
                mode = gr.Dropdown([None, *FAULT_MODES], value=None, label="mode (diagnose only)")
                step_button = gr.Button("Run step", variant="primary")
            status = gr.Markdown()
            board = gr.HTML()
            reset_button.click(reset, [seed, difficulty, scenario], [board, status], api_name="mirr_reset")
            step_button.click(step, [move, service, mode], [board, status], api_name="mirr_step")
        return blocks

    return build


def _board(data: dict[str, Any]) -> str:
    payload = {**(data.get("observation") or {}), "reward": data.get("reward"), "done": data.get("done")}
    return render_web(payload) or ""
