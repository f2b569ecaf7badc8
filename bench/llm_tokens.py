"""What one LLM episode costs in tokens with the default prompt, measured offline.

The LLM agent plays through the real groq client against an httpx.MockTransport whose "model" is the
reasoner agent (the careful reference player under rules v2, so episodes have a realistic length;
`--player heuristic` for the plain one). The mock reports usage as
an estimate, characters / 4, of the messages it received and the reply it sent; the agent sums those
fields exactly as it sums Groq's. Real tokenizers differ (Llama 3 and gpt-oss split digits and table
spacing differently), so read the figures as +-30%. Reasoning models add their hidden reasoning
tokens on top of the completion figure.

    .venv/bin/python bench/llm_tokens.py [--episodes 50] [--history 8] [--player reasoner|heuristic]
"""

from __future__ import annotations

import argparse
import json
import statistics

import httpx

from mirr_tui.agents.heuristic import HeuristicAgent
from mirr_tui.agents.llm import LLMAgent
from mirr_tui.agents.reasoner import ReasonerAgent
from mirr_tui.core import IncidentEnv
from mirr_tui.evaluation import run_episode


def estimate(text: str) -> int:
    return max(1, round(len(text) / 4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--history", type=int, default=None, help="history option (default: openenv.yaml)")
    parser.add_argument("--player", choices=("reasoner", "heuristic"), default="reasoner", help="who plays")
    args = parser.parse_args()

    env = IncidentEnv()
    brain = ReasonerAgent() if args.player == "reasoner" else HeuristicAgent()
    usage: dict[str, list[int]] = {"first_prompt": [], "full_history": []}

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        obs = env.observation
        if obs.step == 0:
            brain.reset(obs)
        action = brain.act(obs)
        content = json.dumps({"reasoning": brain.last_reasoning or "", "action": action.to_dict()})
        prompt = sum(estimate(m["content"]) + 4 for m in body["messages"])  # +4 per message for chat framing
        completion = estimate(content)
        if obs.step == 0:
            usage["first_prompt"].append(prompt)
        if obs.step >= agent.settings.history:
            usage["full_history"].append(prompt)
        return httpx.Response(
            200,
            json={
                "id": "bench",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            },
        )

    agent = LLMAgent(api_key="bench", history=args.history, transport=httpx.MockTransport(handler))
    totals, prompts, completions, steps, outcomes = [], [], [], [], []
    for seed in range(args.episodes):
        prompt_sum = completion_sum = 0
        obs_steps = 0

        def count(_obs) -> None:
            nonlocal prompt_sum, completion_sum, obs_steps
            prompt_sum += agent.last_details["prompt_tokens"]
            completion_sum += agent.last_details["completion_tokens"]
            obs_steps += 1

        result = run_episode(env, agent, seed, on_step=count)
        totals.append(result.tokens)
        prompts.append(prompt_sum)
        completions.append(completion_sum)
        steps.append(result.steps)
        outcomes.append(result.outcome)

    print(f"LLM agent token cost, default prompt, history={agent.settings.history}, {args.episodes} episodes (normal)")
    print("estimate: characters / 4 (+4 per message), via the mock's usage fields")
    print(f"first-step prompt   {statistics.fmean(usage['first_prompt']):8.0f} tokens")
    print(
        f"steps per episode   {statistics.fmean(steps):8.1f} ({args.player} play; recovered {outcomes.count('recovered')})"
    )
    print(f"prompt per step     {sum(prompts) / sum(steps):8.0f} tokens")
    print(f"completion per step {sum(completions) / sum(steps):8.0f} tokens")
    print(
        f"total per episode   {statistics.fmean(totals):8.0f} tokens (median {statistics.median(totals):.0f}, max {max(totals)})"
    )
    if usage["full_history"]:
        full = statistics.fmean(usage["full_history"])
        print(f"prompt, full history {full:7.0f} tokens per step (step >= {agent.settings.history})")
        print(
            f"30-step episode     {30 * (full + sum(completions) / sum(steps)):8.0f} tokens (upper end: a player that uses the whole budget)"
        )


if __name__ == "__main__":
    main()
