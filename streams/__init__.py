"""The Faust side: app factory, topics, agents and tables that fold the event log into KPI state."""
