#include <stdio.h>
int main(void)
{
    puts("knoten");
    return 0;
}
