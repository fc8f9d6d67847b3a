package app

import "testing"

func TestConfigDatabaseMaxConnections(t *testing.T) {
	tests := []struct {
		name    string
		value   int
		want    int
		wantErr bool
	}{
		{"ZeroIsTheDefault", 0, DefaultDatabaseMaxConnections, false},
		{"Set", 5, 5, false},
		{"Negative", -1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Config{DatabaseMaxConnections: tt.value}.withDefaults()
			if tt.wantErr {
				if err == nil {
					t.Fatal("withDefaults accepted it")
				}
				return
			}
			if err != nil || cfg.DatabaseMaxConnections != tt.want {
				t.Fatalf("DatabaseMaxConnections = %d, %v; want %d", cfg.DatabaseMaxConnections, err, tt.want)
			}
		})
	}
}
