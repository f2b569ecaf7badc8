from mirr_tui.core import IncidentEnv


def test_an_episode_of_waiting_ends():
    env = IncidentEnv()
    obs = env.reset(seed=1)
    while not obs.done:
        obs = env.step("wait")
    assert obs.outcome in ("collapsed", "timed_out")
