"""The CLI's face: the App context every command gets, the one output layer, and the
whole-life-cycle demo, starter and diagram. May import everything below commands.
"""
