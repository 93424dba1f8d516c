"""Action server of 反诈助手 (rasa_sdk): verdicts, report-line routing and the call check form."""
