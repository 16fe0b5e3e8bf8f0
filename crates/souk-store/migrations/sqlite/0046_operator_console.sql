-- The operator console's health page counts calls to sellers per minute over the last hour:
-- an index on when each attempt started keeps that a range read instead of a full scan.
CREATE INDEX call_attempts_by_start ON call_attempts (started_at);
