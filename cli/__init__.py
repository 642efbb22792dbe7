"""The ``phonehub`` command line, above both the core (``hub``) and the panel (``web``).

It lives outside ``hub/`` so that dependencies point one way: ``cli → web → hub → hardware``.
"""
