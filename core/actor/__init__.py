"""The actor (AutoMathCritique): problems with ground truth, solving strategies the critic supervises, their results."""
