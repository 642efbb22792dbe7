"""The staff and admin panel (Flask); it talks to the line over the control socket."""
