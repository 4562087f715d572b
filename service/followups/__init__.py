"""Close the loop for sales: who asked for a roadmap item (follow-ups) and what an account raised (briefs).

Both read the roadmap's one Decision per customer statement (service.roadmap.decision) and word their drafts with
the drafts pipeline's drafter and checks (service.drafts), quoting only the account's own words.
"""
