"""Status LEDs and buttons on the Pi's GPIO, through gpiozero's pin factories."""
