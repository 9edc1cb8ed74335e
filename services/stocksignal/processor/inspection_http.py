"""What the inspection API's HTTP side (web.py) shares with the operator's page
(operator_page.py): the headers of a forwarded answer and the movements one answer holds.

Apart from both because web.py mounts the page: kept in web.py, the two would import each other.
"""

MAX_MOVEMENTS = 1000
FORWARDED = "X-Stocksignal-Forwarded"
OWNER = "X-Stocksignal-Owner"  # on a forwarded answer: the worker that gave it
