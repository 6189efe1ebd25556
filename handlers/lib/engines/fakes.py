"""What the masking transformers draw their fakes from, the same for every engine (a value masks
to the same fake on PostgreSQL and MySQL): fictional names, a reserved e-mail domain (.invalid
never resolves) and streets that are obviously made up.
"""

from __future__ import annotations

RESERVED_DOMAIN = "example.invalid"

FIRST_NAMES = (
    "Alex", "Avery", "Bailey", "Blake", "Cameron", "Casey", "Charlie", "Dakota", "Drew",
    "Eden", "Elliot", "Emerson", "Finley", "Frankie", "Harper", "Hayden", "Jamie", "Jesse",
    "Jordan", "Jules", "Kai", "Kendall", "Lane", "Logan", "Morgan", "Noel", "Parker", "Peyton",
    "Quinn", "Reese", "Riley", "River", "Robin", "Rowan", "Sage", "Sawyer", "Skyler", "Taylor",
)
LAST_NAMES = (
    "Ashdown", "Birchwood", "Brookmere", "Calloway", "Clearwater", "Dunmore", "Eastbrook",
    "Fairhaven", "Fernsby", "Glenrock", "Greystone", "Hallowell", "Hartfield", "Ivydale",
    "Kestrel", "Larkspur", "Lindenmoor", "Marlowe", "Meadowcroft", "Northwood", "Oakhurst",
    "Pennington", "Quillfeather", "Ravensworth", "Rosewood", "Stillwater", "Thornbury",
    "Underhill", "Westbrook", "Whitlock", "Willowby", "Yarrow",
)
STREETS = (
    "Example Street", "Sample Avenue", "Placeholder Road", "Fictional Lane", "Test Court",
    "Mock Boulevard", "Dummy Way", "Specimen Place", "Pattern Drive", "Template Row",
)
