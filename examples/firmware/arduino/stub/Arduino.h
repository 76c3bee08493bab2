/* STUB for the qreg CI only — not the Arduino core. It declares the few Arduino functions
 * and objects examples/firmware/arduino/qreg_gesture.ino uses (Serial, analogRead, delay,
 * A0–A2), so that the sketch compiles and links with plain arm-none-eabi-g++ in
 * examples/firmware/run.sh. On a real board the Arduino IDE's own Arduino.h is used. */
#ifndef QREG_ARDUINO_STUB_H
#define QREG_ARDUINO_STUB_H

#include <stdint.h>

enum { A0 = 14, A1 = 15, A2 = 16 };

class StubSerial {
public:
    void begin(unsigned long baud);
    void print(const char *s);
    void println(const char *s);
};
extern StubSerial Serial;

int analogRead(int pin);
void delay(unsigned long ms);

#endif
