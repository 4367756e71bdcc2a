package cache

import "context"

// writeResult is the answer to PUT items/{item}.
type writeResult struct {
	Item
	Strategy string `json:"strategy"`
	// Cache says what happened to the cache: deleted, updated, left to the
	// TTL, queued (write-behind), none, or the failure.
	Cache string `json:"cache"`
}

// write changes an item's price (and name) by the configured strategy and
// acknowledges the new version.
func (in *instance) write(ctx context.Context, id int, price int64, name *string) (writeResult, error) {
	if id < 1 || id > CatalogueSize {
		return writeResult{}, errNoItem
	}
	if in.cfg.strategy == StrategyWriteBehind {
		it, err := in.wb.write(ctx, id, price, name)
		if err != nil {
			return writeResult{}, err
		}
		in.ack(id, it.Version)
		return writeResult{Item: it, Strategy: in.cfg.strategy, Cache: "updated; write queued for the database"}, nil
	}
	it, err := in.dbWrite(ctx, id, price, name)
	if err != nil {
		return writeResult{}, err
	}
	// The database has committed: the write is acknowledged whatever
	// happens to the cache, and a cache failure is reported, not hidden.
	res := writeResult{Item: it, Strategy: in.cfg.strategy, Cache: "none"}
	switch {
	case in.cfg.strategy == StrategyCacheAside && in.cfg.invalidation == InvalidateDelete:
		res.Cache = "deleted"
		if err := in.cacheInvalidate(ctx, id, it.Version); err != nil {
			in.redisError("invalidation", err)
			res.Cache = "delete failed: " + err.Error() + "; readers may see the old value until the TTL"
		}
	case in.cfg.strategy == StrategyCacheAside:
		res.Cache = "left to the TTL"
	case in.cfg.strategy == StrategyWriteThrough:
		stored, err := in.cacheWrite(ctx, in.newEntry(it, 0))
		switch {
		case err != nil:
			in.redisError("write-through update", err)
			res.Cache = "update failed: " + err.Error() + "; readers may see the old value until the TTL"
		case !stored:
			res.Cache = "not updated: a newer version is already cached"
		default:
			res.Cache = "updated"
		}
	}
	in.ack(id, it.Version)
	return res, nil
}
