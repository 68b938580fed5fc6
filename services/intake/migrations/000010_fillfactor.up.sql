-- A case's row is updated at every move of assignment's that changes what
-- intake shows of it (state, holder, offices that may see it, end time).
-- Moves that keep the offices (accept, extend, answer, evaluate…) change no
-- indexed column, so their update can be heap-only (HOT: the new version
-- beside the old on its page, no index touched) when the page has room; at
-- the default fillfactor of 100 the pages that registrations fill have none,
-- and each such update wrote an entry in every one of the table's indexes
-- (five, and up to three partial ones). New pages keep a fifth free for
-- those updates.
ALTER TABLE cases SET (fillfactor = 80);
