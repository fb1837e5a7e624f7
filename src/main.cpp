#include <cstdio>
int main() { std::puts("voicegate"); return 0; }
