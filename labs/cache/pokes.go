package cache

import "github.com/sdworkbook/workbook/labs"

// pokes are the ready-made requests the lab's page offers.
func pokes() []labs.Poke {
	return []labs.Poke{
		{Label: "Read an item", Method: "GET", Path: "items/{item}", Params: []labs.PokeParam{{Name: "item", Value: "1"}}},
		{Label: "Write an item", Method: "PUT", Path: "items/{item}", Params: []labs.PokeParam{{Name: "item", Value: "1"}}, Body: `{"price": 1999}`},
		{Label: "Stampede", Method: "POST", Path: "stampede", Help: "Expires a hot key and sends 200 concurrent reads."},
		{Label: "Crash the flusher", Method: "POST", Path: "crash-flusher", Help: "Write-behind only: which acknowledged writes were lost?"},
		{Label: "Make Redis fail", Method: "PUT", Path: "redis", Body: `{"down": true}`,
			Help: "Every Redis command of this instance fails at once until you bring it back; redis_errors decides what reads do."},
		{Label: "Bring Redis back", Method: "PUT", Path: "redis", Body: `{"down": false}`},
		{Label: "Database row", Method: "GET", Path: "db/items/{item}", Params: []labs.PokeParam{{Name: "item", Value: "1"}},
			Help: "The item as the database holds it, without the cache: with write-behind, what the flusher has written so far."},
	}
}
