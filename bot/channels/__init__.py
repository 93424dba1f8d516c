"""Rasa channel connectors of 反诈助手."""
