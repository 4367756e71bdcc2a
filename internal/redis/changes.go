package redis

import (
	"context"
	"strconv"

	goredis "github.com/redis/go-redis/v9"
)

// ChangesChannel is the channel on which the processes sharing a database
// announce changes that others may hold copies of: "<sender> s:<session
// id>" (a session ended), "<sender> u:<user id>" (an account changed) and
// "<sender> l:<user id>" (a learner's record changed, their scores
// included; 0 is every learner). The web replicas keep the copies and
// listen; grader processes only announce.
const ChangesChannel = "workbook:sessions:forget"

// AnnounceLearner tells the listeners on ChangesChannel that a learner's
// record changed, from sender (a name the sender skips when it listens).
func AnnounceLearner(ctx context.Context, rdb *goredis.Client, sender string, userID int64) error {
	return rdb.Publish(context.WithoutCancel(ctx), ChangesChannel, sender+" l:"+strconv.FormatInt(userID, 10)).Err()
}
