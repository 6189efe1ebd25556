"""Setup step `drill`: the restore drills' secret, state machine, alarms and schedule.
May import the other kinds and everything below resources.
"""
