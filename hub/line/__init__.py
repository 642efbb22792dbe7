"""The line daemon: the SIP stack, calls, prompts, recordings and status LEDs."""
