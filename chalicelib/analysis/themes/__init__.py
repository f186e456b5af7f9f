"""Theme taggers: which themes of the taxonomy an item talks about, and the sentiment about each."""
