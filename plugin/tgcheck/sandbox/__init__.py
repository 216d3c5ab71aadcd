"""A real HTTP server speaking the ekycpro protocol on loopback, with simulated answers."""

from .server import DEMO_KEY, Faults, Sandbox, simulated_answer

__all__ = ["DEMO_KEY", "Faults", "Sandbox", "simulated_answer"]
