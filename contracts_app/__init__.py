"""Projects, API keys, contracts and their versions, validation events, traces, breakpoints, rollups."""
