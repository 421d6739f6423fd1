"""Search agents, installed as ``nasgym.agents``. Each agent runs against a nasgym env."""
