package breaker

import "github.com/sdworkbook/workbook/labs"

// pokes are the ready-made requests the lab's page offers.
func pokes() []labs.Poke {
	return []labs.Poke{
		{Label: "Call the downstream", Method: "POST", Path: "call"},
		{Label: "Breaker state", Method: "GET", Path: "state"},
		{Label: "Set the downstream", Method: "PUT", Path: "downstream",
			Body: `{"error_rate": 0.5, "latency_ms": 20, "latency": "uniform", "outage": false}`},
		{Label: "Start an outage", Method: "PUT", Path: "downstream", Body: `{"outage": true}`},
		{Label: "End the outage", Method: "PUT", Path: "downstream", Body: `{"outage": false, "error_rate": 0}`},
		{Label: "Give the downstream a capacity", Method: "PUT", Path: "downstream", Body: `{"capacity": 4, "queue": 200, "latency_ms": 20}`},
		{Label: "Slow outage (calls hang, then fail)", Method: "PUT", Path: "downstream", Body: `{"outage": true, "latency_ms": 2000}`},
		{Label: "Remove the capacity limit", Method: "PUT", Path: "downstream", Body: `{"capacity": 0}`},
	}
}
