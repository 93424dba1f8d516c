"""The web admin: edit what the bot says, try it, put it live, see the history."""
