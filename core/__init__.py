"""The critic: step splitting, prompts, generation backends, parsing, voting, symbolic checks."""
