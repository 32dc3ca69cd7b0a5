"""Push launchers: the Step Functions state machines' steps and the job backends they call."""
