"""Normalisations for the documented differences between Wine and Windows
(known_wine_differences.md). Each rule names its entry there; a rule rewrites a transcript
line of either side to the Windows behaviour, so the comparison follows Windows."""


def normalise(seq, transcript):
    return transcript
