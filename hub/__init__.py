"""School Phone Hub: the appliance core (config, database, rules, the line)."""

__version__ = "0.1.0"
