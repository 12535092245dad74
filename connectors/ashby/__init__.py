"""The Ashby connector: the Ashby Assessments Partner API on the Langos host."""
