package inputs

import (
	"context"

	"go.einride.tech/can"
	"go.einride.tech/can/pkg/socketcan"
)

// sendCAN writes one frame ("ID#DATA") to a SocketCAN interface.
func sendCAN(iface, frame string) error {
	var f can.Frame
	if err := f.UnmarshalString(frame); err != nil {
		return err
	}
	conn, err := socketcan.DialContext(context.Background(), "can", iface)
	if err != nil {
		return err
	}
	defer conn.Close()
	return socketcan.NewTransmitter(conn).TransmitFrame(context.Background(), f)
}
