/* STUB for the qreg CI only — not the Arduino core: empty definitions of what stub/Arduino.h
 * declares and a main() that calls setup() and loop() as the core does, so that the sketch,
 * compiled as C++, links against the model and runtime compiled as C (the extern "C" check). */
#include "Arduino.h"

StubSerial Serial;
void StubSerial::begin(unsigned long) {}
void StubSerial::print(const char *) {}
void StubSerial::println(const char *) {}
int analogRead(int pin) { return 512 + pin; }
void delay(unsigned long) {}

void setup();
void loop();

int main()
{
    setup();
    for (int i = 0; i < 100; i++)
        loop();
    return 0;
}
