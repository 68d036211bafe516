-- The node (process) that started a running operation or took a queued transfer: recovery
-- cleans only what another, gone, process left.
ALTER TABLE operations ADD COLUMN node TEXT;
ALTER TABLE transfer_queue ADD COLUMN node TEXT;
