"""What every output (text, JSON, saved plans) shows in place of a secret value."""

SENSITIVE_SHOWN = "(sensitive)"
